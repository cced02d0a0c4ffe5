-- strbuild.lua: 200k pieces joined with table.concat, twin of strbuild.sx.
local t = {}
for i = 0, 199999 do t[#t + 1] = "item" .. i .. "," end
print(#table.concat(t))
