"""The shared kernel: errors, caches, audit and request context; depends on nothing of ours."""
