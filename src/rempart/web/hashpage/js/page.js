// placeholder: the page script (owned by the page helper)
