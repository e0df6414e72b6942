-- wrk script for bench/ingest.sh: POST /notify/user-added with a unique username per request,
-- and one machine-readable RESULT line at the end.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
  }
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"user":{"username":"bench-%d-%d","display_name":"Bench %d","email":"b%d@example.com"}}',
    tid, counter, counter, counter)
  return wrk.format("POST", "/notify/user-added", headers, body)
end

function done(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d failed=%d seconds=%.3f p50_us=%d p99_us=%d\n",
    summary.requests, failed, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99)))
end
