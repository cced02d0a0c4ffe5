-- loop.lua: 10M-iteration counting loop, twin of loop.sx (a tail-recursive
-- named let). Prints the sum 0 + 1 + ... + 9999999 = 49999995000000.
-- A named let is a local function called in tail position, so that is the
-- faithful twin; an idiomatic Lua while loop runs about 2x faster still.
local function loop(i, acc)
  if i < 10000000 then return loop(i + 1, acc + i) end
  return acc
end
print(loop(0, 0))
