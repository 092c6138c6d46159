-- The version of ei-train; the rockspec carries the same.
return "0.1.0"
