-- loop_while.lua: the same 10M-iteration sum as loop.sx written as an
-- idiomatic Lua while loop, the bar a named let compiled to a jump should
-- meet. Prints 49999995000000.
local i, acc = 0, 0
while i < 10000000 do
  acc = acc + i
  i = i + 1
end
print(acc)
