-- ARGV: user, now, timeout, depth
return append({'ok'}, offer_best_for(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
                                     tonumber(ARGV[4])))
