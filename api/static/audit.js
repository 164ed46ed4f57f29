// The oversight dashboard's sign-in and sign-out (GET /audit): the scan station's
// session, an HttpOnly cookie the page reads on the server. No other script runs here.
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("audit-signin");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $("audit-error");
      error.hidden = true;
      let answer;
      try {
        answer = await fetch("/scan/session", {
          method: "POST",
          headers: { Authorization: `Bearer ${$("audit-key").value.trim()}` },
          credentials: "same-origin",
        });
      } catch (err) {
        error.textContent = `Cannot reach the server: ${err.message}`;
        error.hidden = false;
        return;
      }
      if (!answer.ok) {
        const body = await answer.json().catch(() => ({}));
        error.textContent = body.detail || `Sign-in refused (${answer.status})`;
        error.hidden = false;
        return;
      }
      $("audit-key").value = "";
      window.location.reload();
    });
  }
  const signout = $("audit-signout");
  if (signout) {
    signout.addEventListener("click", async () => {
      try { await fetch("/scan/session", { method: "DELETE", credentials: "same-origin" }); }
      catch (_err) { /* the cookie expires anyway */ }
      window.location.reload();
    });
  }
})();
