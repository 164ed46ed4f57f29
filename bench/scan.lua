-- wrk script: POST /v1/scan, cycling through known payloads (label URLs, codes, ...).
--
-- Environment:
--   BENCH_API_KEY        the key every request carries (any org)
--   BENCH_PAYLOADS_FILE  one payload per line (already JSON-safe: no quotes or backslashes)
-- Each wrk thread starts at its own offset in the list, so the threads do not
-- scan the same item at the same moment. done() prints one line "RESULT {json}"
-- with the status counts and latency percentiles for bench/labels.py.

local api_key = os.getenv("BENCH_API_KEY") or ""
local payloads_file = os.getenv("BENCH_PAYLOADS_FILE") or ""
local threads = {}
local next_id = 0

local function load_payloads()
  local list = {}
  local handle = io.open(payloads_file, "r")
  if handle == nil then
    return list
  end
  for line in handle:lines() do
    if #line > 0 then
      table.insert(list, line)
    end
  end
  handle:close()
  return list
end

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  payloads = load_payloads()
  counter = id * 7919
  ok = 0
  other = 0
  statuses = ""
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. api_key,
  }
end

function request()
  counter = counter + 1
  local payload = payloads[(counter % #payloads) + 1]
  return wrk.format("POST", "/v1/scan", headers, '{"payload":"' .. payload .. '"}')
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    other = other + 1
    if #statuses < 200 then
      statuses = statuses .. status .. " "
    end
  end
end

function done(summary, latency, requests)
  local total_ok, total_other, seen = 0, 0, ""
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
    seen = seen .. thread:get("statuses")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"ok":%d,"other":%d,"other_statuses":"%s","requests":%d,"duration_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    total_ok, total_other, seen, summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
