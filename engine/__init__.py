"""The collection strategy engine: the domain, with no transport in it."""

import zoneinfo

# Time-zone rules come from the pinned `tzdata` package, never from the machine's
# /usr/share/zoneinfo: the data changes what a window is, so it must be the data
# build_info, GetPolicy and the decision log name, the same on every replica.
zoneinfo.reset_tzpath(to=())
