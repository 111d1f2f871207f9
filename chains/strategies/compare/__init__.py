"""The ``compare`` strategy (``compare``), its anonymous judge (``judge``), the S3 copy (``storage``) and the
table report (``report``)."""
