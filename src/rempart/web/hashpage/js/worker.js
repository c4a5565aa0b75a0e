// placeholder: the hashing worker (owned by the page helper)
