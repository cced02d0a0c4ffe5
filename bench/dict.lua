-- dict.lua: 100k inserts of distinct string keys into one table, then 100k
-- lookups with freshly built keys; twin of dict.sx. Prints the checksum
-- (sum of looked-up values = 4999950000).
local d = {}
for i = 0, 99999 do d["k" .. i] = i end
local s = 0
for i = 0, 99999 do s = s + d["k" .. i] end
print(s)
