-- records.lua: 1M small records {amt, type} folded, twin of records.sx.
-- Prints 249500000.
local rs = {}
for i = 0, 999999 do
  rs[#rs + 1] = { amt = i % 1000, type = (i % 2 == 0) and "buy" or "sell" }
end
local acc = 0
for i = 1, #rs do
  local r = rs[i]
  if r.type == "buy" then acc = acc + r.amt end
end
print(acc)
