-- Requests for wrk from a data file written by bench/wrk.py, counted by status, and one
-- summary line for the orchestrator to parse.
--
--   wrk -t1 -s bench/lua/bench.lua <options> <url> -- <data file> <step> <first>
--
-- The data file is Lua returning { headers = {...}, requests = { {method, path, body,
-- headers}, ... } }. bench/wrk.py runs several wrk processes of one thread each; the one
-- started with <first> = k sends requests k, k+step, k+2*step, ... (1-based), wrapping at
-- the end, so that no two send the same item at the same time. The summary carries the
-- latency at every percentile so that the processes' distributions can be merged.

local threads = {}

-- The middle of each 1% of the requests up to 99%, then of each 0.1% (bench/wrk.py GRID).
PERCENTILES = {}
for i = 0, 98 do table.insert(PERCENTILES, i + 0.5) end
for i = 0, 9 do table.insert(PERCENTILES, 99.05 + i / 10) end

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local data = dofile(args[1])
  step = tonumber(args[2])
  local first = tonumber(args[3])
  statuses = {}
  -- Format every request once, up front: request() then only picks the next string.
  prepared = {}
  for i, item in ipairs(data.requests) do
    local headers = {}
    for name, value in pairs(data.headers or {}) do headers[name] = value end
    for name, value in pairs(item[4] or {}) do headers[name] = value end
    prepared[i] = wrk.format(item[1], item[2], headers, item[3])
  end
  position = (first + thread_index - 1) % #prepared + 1
end

function request()
  local current = prepared[position]
  position = position + step
  if position > #prepared then
    position = (position - 1) % #prepared + 1
  end
  return current
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  local grid = {}
  for _, p in ipairs(PERCENTILES) do
    table.insert(grid, string.format("%d", latency:percentile(p)))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "max_us": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "statuses": {%s}, "percentiles_us": [%s]}\n',
    summary.requests, summary.duration, latency.max, e.connect, e.read, e.write, e.timeout,
    table.concat(parts, ", "), table.concat(grid, ", ")))
end
