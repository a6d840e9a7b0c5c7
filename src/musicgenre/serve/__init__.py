"""``musicgenre serve``: a web page and an HTTP API that label uploaded audio with one loaded model.

Modules: :mod:`.settings` (:class:`ServeSettings`, no web imports), :mod:`.uploads` (streaming multipart
uploads into a temporary folder, with the size limit), :mod:`.pool` (the bounded inference pool),
:mod:`.model` (what ``GET /api/model`` says), :mod:`.app` (``create_app``), ``static/`` (the page).
"""
