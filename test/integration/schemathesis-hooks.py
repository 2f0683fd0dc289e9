# POST /events takes NDJSON text: schemathesis sends the generated string as it sends text/plain.
import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "text/plain")
