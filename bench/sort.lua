-- sort.lua: table.sort of 300k pseudo-random integers, twin of sort.sx.
local t, x = {}, 12345
for i = 1, 300000 do
  x = (x * 1103515245 + 12345) % 2147483648
  t[i] = x
end
table.sort(t)
local acc = 0
for i = 1, #t do acc = (acc * 31 + t[i]) % 1000000007 end
print(acc)
