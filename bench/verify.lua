-- wrk script: POST /v1/verify for random known people (docs/benchmarks.md, ## Verification service).
-- BODIES names a file of request bodies, one JSON document a line; KEY, when set, is the
-- partner's key (the bare baseline takes none).
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do
  bodies[#bodies + 1] = line
end
math.randomseed(os.time())

wrk.method = "POST"
wrk.path = "/v1/verify"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("KEY")
if key ~= nil and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

request = function()
  return wrk.format(nil, nil, nil, bodies[math.random(#bodies)])
end
