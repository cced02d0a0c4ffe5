-- listops.lua: map/filter/reduce over a 1M-element list, twin of
-- listops.sx. Lists are Lua arrays; map and filter build new arrays and
-- reduce folds with f(acc, item), as in SX. Prints the checksum.
local function range(a, b)
  local t = {}
  for i = a, b - 1 do t[#t + 1] = i end
  return t
end
local function map(f, t)
  local r = {}
  for i = 1, #t do r[i] = f(t[i]) end
  return r
end
local function filter(p, t)
  local r, n = {}, 0
  for i = 1, #t do
    local x = t[i]
    if p(x) then n = n + 1; r[n] = x end
  end
  return r
end
local function reduce(f, acc, t)
  for i = 1, #t do acc = f(acc, t[i]) end
  return acc
end
local xs = range(0, 1000000)
local ys = map(function(x) return x * 3 end, xs)
local zs = filter(function(x) return x % 2 == 0 end, ys)
print(reduce(function(acc, x) return acc + x end, 0, zs))
