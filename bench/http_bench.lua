-- wrk script of bench/http_bench.py (docs/performance.md, "HTTP (issue 12)").
--
-- BENCH_MODE=get: every request is GET of the URL's path with BENCH_AUTH as bearer token (if set).
-- BENCH_MODE=book: citizen booking POSTs, each with the bearer token, place and start of one line of
-- BENCH_TARGETS ("token<TAB>location<TAB>start"), spread over the threads (line i to thread i mod
-- BENCH_THREADS), each with its own Idempotency-Key. A thread that runs out of lines starts again from
-- its first one (those repeats answer 409 and are counted as such, never as bookings).
-- done() prints one line "BENCHJSON {...}" with the counts, latency percentiles and status codes.

local threads = {}
tid = 0 -- set per thread by setup(); a global, so that thread:set reaches it
local nthreads = 1
local counter = 0
local targets = {}
local static = nil
local host = "kyoto.localhost"
codes = {}
first_error = ""

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  host = os.getenv("BENCH_HOST") or host
  local mode = os.getenv("BENCH_MODE") or "get"
  if mode == "book" then
    local i = 0
    for line in io.lines(os.getenv("BENCH_TARGETS")) do
      if i % nthreads == tid then
        local token, location, start = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)")
        table.insert(targets, { token, location, start })
      end
      i = i + 1
    end
  else
    local headers = { ["Host"] = host, ["X-Forwarded-Proto"] = "https", ["Accept"] = "application/json" }
    local auth = os.getenv("BENCH_AUTH") or ""
    if auth ~= "" then
      headers["Authorization"] = "Bearer " .. auth
    end
    static = wrk.format("GET", wrk.path, headers)
  end
end

function request()
  if static then
    return static
  end
  counter = counter + 1
  local t = targets[((counter - 1) % #targets) + 1]
  local body = '{"location": ' .. t[2] .. ', "service": "card_issuance", "start": "' .. t[3] .. '"}'
  local headers = {
    ["Host"] = host,
    ["X-Forwarded-Proto"] = "https",
    ["Accept"] = "application/json",
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. t[1],
    ["Idempotency-Key"] = "bench-" .. tid .. "-" .. counter,
  }
  return wrk.format("POST", "/api/v1/citizen/booking/", headers, body)
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if status >= 500 and first_error == "" then
    first_error = string.sub(body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local total = {}
  local err = ""
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("codes")) do
      total[status] = (total[status] or 0) + n
    end
    local e = thread:get("first_error")
    if err == "" and e ~= "" then
      err = e
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  err = err:gsub("[%c\"\\]", " ")
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "connect": %d, '
      .. '"read": %d, "write": %d, "timeout": %d, "codes": {%s}, "first_error": "%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    table.concat(parts, ", "), err
  ))
end
