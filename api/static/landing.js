// The landing page's sign-in (GET /): opens passports at the key's access level.
(() => {
  // The scan station's session: the key checked once, then an HttpOnly session
  // cookie that passport pages (/p/…) read.
  const SIGNED_IN = "retrace.passport.org";
  const $ = (id) => document.getElementById(id);
  function show(org) {
    $("signin-form").hidden = !!org;
    $("signed-in").hidden = !org;
    if (org) $("signed-in-org").textContent = `${org.name} (${org.role})`;
  }
  function refuse(message) {
    $("signin-error").textContent = message;
    $("signin-error").hidden = !message;
  }
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    refuse("");
    const key = $("signin-key").value.trim();
    let answer;
    try {
      answer = await fetch("/scan/session", {
        method: "POST", headers: { Authorization: `Bearer ${key}` }, credentials: "same-origin",
      });
    } catch (err) {
      refuse(`Cannot reach the server: ${err.message}`);
      return;
    }
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      refuse(body.detail || `Sign-in refused (${answer.status})`);
      return;
    }
    $("signin-key").value = "";
    sessionStorage.setItem(SIGNED_IN, JSON.stringify({ name: body.name, role: body.role }));
    show(body);
  });
  $("passport-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("passport-id").value.trim();
    if (id) window.location.assign(`/p/${encodeURIComponent(id)}`);
  });
  $("signout").addEventListener("click", async () => {
    sessionStorage.removeItem(SIGNED_IN);
    try { await fetch("/scan/session", { method: "DELETE", credentials: "same-origin" }); }
    catch (_err) { /* the cookie expires anyway */ }
    show(null);
  });
  try { show(JSON.parse(sessionStorage.getItem(SIGNED_IN) || "null")); }
  catch (_err) { show(null); }
})();
