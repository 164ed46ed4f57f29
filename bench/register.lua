-- wrk script: register one PV module per request (POST /v1/items).
--
-- Each wrk thread numbers its own requests, so every request carries a
-- unique serial "PV-<prefix>-<thread>-<counter>" (PV serials need no check
-- digit). The API key and the prefix come from the environment:
--   BENCH_API_KEY   an OEM's key
--   BENCH_PREFIX    unique per run, so a rerun on the same database registers new codes
-- done() prints one line "RESULT {json}" with the status counts for appends.py.

local api_key = os.getenv("BENCH_API_KEY") or ""
local prefix = os.getenv("BENCH_PREFIX") or "run"
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  created = 0
  other = 0
  statuses = ""
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"kind":"pv_module","code":"PV-%s-%d-%d","attributes":{"mass_kg":"22.5","rated_power_w":"405"}}',
    prefix, id, counter)
  return wrk.format("POST", "/v1/items", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. api_key,
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    if #statuses < 200 then
      statuses = statuses .. status .. " "
    end
  end
end

function done(summary, latency, requests)
  local total_created, total_other, seen = 0, 0, ""
  for _, thread in ipairs(threads) do
    total_created = total_created + thread:get("created")
    total_other = total_other + thread:get("other")
    seen = seen .. thread:get("statuses")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"created":%d,"other":%d,"other_statuses":"%s","requests":%d,"duration_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    total_created, total_other, seen, summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
