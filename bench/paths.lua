-- wrk script: GET a list of paths in turn (proofs, histories, pages of the log).
--
-- Environment:
--   BENCH_API_KEY      the key every request carries (may be empty for public paths)
--   BENCH_PATHS_FILE   one request path per line, e.g. /v1/log/proof/inclusion?index=7&size=100
-- Each wrk thread starts at its own offset. done() prints one line "RESULT {json}"
-- with the status counts and latency percentiles (microseconds).

local api_key = os.getenv("BENCH_API_KEY") or ""
local paths_file = os.getenv("BENCH_PATHS_FILE") or ""
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  local handle = io.open(paths_file, "r")
  if handle ~= nil then
    for line in handle:lines() do
      if #line > 0 then
        table.insert(paths, line)
      end
    end
    handle:close()
  end
  counter = id * 7919
  ok = 0
  other = 0
  statuses = ""
  headers = {}
  if #api_key > 0 then
    headers["Authorization"] = "Bearer " .. api_key
  end
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
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
