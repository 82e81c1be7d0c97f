"""CDN and storage logs written as delimited lines: Bunny CDN (pipe-separated) and Google Cloud
Storage usage logs (CSV with a header line).

Both are read by regexes written from the vendors' documentation; the request URL they log is
absolute (Bunny) or the request URI (GCS, whose host is its own column).
"""
from .base import EPOCH_MS, EPOCH_US, Format

# Bunny CDN (docs.bunny.net, "Logging", the raw pipe-separated lines of the logging API v1):
# cache status | status | timestamp (UTC, ms) | bytes sent | pull zone ID | remote IP | referer |
# URL | edge location | user agent | request ID | country code.
BUNNY = (r'(?P<cache_status>[A-Z_]+)\|(?P<status>\d{3})\|(?P<date>\d+)\|(?P<length>\d+)\|(?P<pull_zone>\d+)\|'
         r'(?P<ip>[^|]*)\|(?P<referrer>[^|]*)\|(?P<path>[^|]+)\|(?P<edge_location>[^|]*)\|'
         r'(?P<user_agent>[^|]*)\|(?P<request_id>[^|]*)\|(?P<country>[^|]*)')

# Google Cloud Storage usage logs (cloud.google.com/storage/docs/access-logs, "Usage log format"):
# CSV, every value quoted ("" for a quote inside), the columns in this documented order after a
# header line that names them; later columns, if any, are ignored.
GCS_COLUMNS = ("time_micros", "c_ip", "c_ip_type", "c_ip_region", "cs_method", "cs_uri", "sc_status",
               "cs_bytes", "sc_bytes", "time_taken_micros", "cs_host", "cs_referer", "cs_user_agent",
               "s_request_id", "cs_operation", "cs_bucket", "cs_object")
GCS_HEADER = ",".join('"%s"' % c for c in GCS_COLUMNS)
_GCS_GROUPS = {"time_micros": "date", "c_ip": "ip", "cs_method": "method", "cs_uri": "path", "sc_status": "status",
               "sc_bytes": "length", "time_taken_micros": "generation_time_micro", "cs_host": "host",
               "cs_referer": "referrer", "cs_user_agent": "user_agent", "cs_operation": "operation",
               "cs_bucket": "bucket"}
_GCS_NUMBERS = {"time_micros", "c_ip_type", "sc_status", "cs_bytes", "sc_bytes", "time_taken_micros"}
_CSV_TEXT = '[^"]*(?:""[^"]*)*'  # unrolled: each quote pair once, no backtracking
GCS = ",".join('"%s"' % ("(?P<%s>%s)" % (_GCS_GROUPS[c], r"\d*" if c in _GCS_NUMBERS else _CSV_TEXT)
                         if c in _GCS_GROUPS else (r"\d*" if c in _GCS_NUMBERS else _CSV_TEXT))
               for c in GCS_COLUMNS)


def csv_unquoted(value):
    """A CSV value with its doubled quotes ("") read as one."""
    return value.replace('""', '"') if '""' in value else value


_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

FORMATS = [
    Format(
        "bunny", BUNNY, EPOCH_MS,
        description="Bunny CDN raw logs (pipe-separated, UTC timestamps in ms, the full URL)",
        samples=[
            ("HIT|200|1772355600123|5120|123456|192.0.2.1|https://www.google.com/|"
             "https://www.example.com/docs/install?page=2|FR|%s|322b688bd63fb63f2babe9de30a5d262|FR" % _UA,
             {"status": "200", "date": "1772355600123", "length": "5120", "ip": "192.0.2.1",
              "referrer": "https://www.google.com/", "path": "https://www.example.com/docs/install?page=2",
              "user_agent": _UA}),
            ("MISS|304|1772355601008|0|123456|2001:db8::7|-|https://shop.example.net/|DE|curl/8.5.0|"
             "0f1e2d3c4b5a69788796a5b4c3d2e1f0|DE",
             {"status": "304", "ip": "2001:db8::7", "referrer": "-", "path": "https://shop.example.net/"}),
        ]),
    Format(
        "gcs", GCS, EPOCH_US, header_prefix='"time_micros"',
        converters={"user_agent": csv_unquoted, "referrer": csv_unquoted, "path": csv_unquoted},
        description="Google Cloud Storage usage logs (CSV with a header line, time in µs since 1970)",
        header_lines=[GCS_HEADER],
        samples=[
            ('"1772355600123456","192.0.2.1","1","","GET","/docs/install?page=2","200","0","5120","25000",'
             '"www.example.com","https://www.google.com/","%s","ADPycdsEXAMPLE","GET_Object","www.example.com",'
             '"docs/install"' % _UA,
             {"date": "1772355600123456", "ip": "192.0.2.1", "method": "GET", "path": "/docs/install?page=2",
              "status": "200", "length": "5120", "generation_time_micro": "25000", "host": "www.example.com",
              "referrer": "https://www.google.com/", "user_agent": _UA}),
            ('"1772355601000000","2001:db8::7","2","","GET","/files/report.pdf","200","0","2048","1200",'
             '"www.example.com","","Mozilla/5.0 ""quoted"" agent","ADPycdsEXAMPLF","GET_Object","www.example.com",'
             '"files/report.pdf"',
             {"ip": "2001:db8::7", "referrer": "", "user_agent": 'Mozilla/5.0 "quoted" agent'}),
        ]),
]
