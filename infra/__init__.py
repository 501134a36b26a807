"""Running Herald's servers: the local stack launcher, and (beside it) deployment files."""
