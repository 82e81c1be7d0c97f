"""The typed configuration of one import run.

`cli.py` turns arguments into a `Config`; everything else reads only this. A `Config` is plain
data (picklable), so worker processes get the same view of the options as the parent.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Contract, section 3.
STATIC_EXTENSIONS = frozenset(
    "gif jpg jpeg png bmp ico svg svgz ttf otf eot woff woff2 class swf css js xml webp".split())
STATIC_FILES = frozenset(["robots.txt"])
DOWNLOAD_EXTENSIONS = frozenset((
    "7z aac arc arj asf asx avi bin csv deb dmg doc docx exe flac flv gz gzip hqx ibooks jar json "
    "mpg mp2 mp3 mp4 mpeg mov movie msi msp odb odf odg odp ods odt ogg ogv pdf phps ppt pptx qt "
    "qtm ra ram rar rpm rtf sea sit tar tbz bz2 tgz torrent txt wav webm wma wmv wpd xls xlsx xml "
    "xsd z zip azw3 epub mobi apk md5 sig").split())
# The reference importer's bot substrings (import_logs.py), for comparison: the importer's own
# rule is log_importer/bots.py (Device Detector's lists and bots.txt).
BOT_SUBSTRINGS = (
    "adsbot-google", "ask jeeves", "baidubot", "bot-", "bot/", "ccooter/", "crawl", "curl",
    "echoping", "exabot", "feed", "googlebot", "ia_archiver", "java/", "libwww",
    "mediapartners-google", "msnbot", "netcraftsurvey", "panopta", "pingdom.com_bot_", "robot",
    "spider", "surveybot", "twiceler", "voilabot", "yahoo", "yandex", "zabbix",
    "googlestackdrivermonitoring",
)

DEFAULT_TRACKER_PATH = "/piwik.php"


@dataclass
class Config:
    files: list[str] = field(default_factory=list)

    # Connection and auth.
    url: str | None = None
    api_url: str | None = None
    tracker_endpoint_path: str = DEFAULT_TRACKER_PATH
    token_auth: str | None = dataclasses.field(default=None, repr=False)
    login: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    config_file: str | None = None
    php_binary: str = "php"  # --config: the PHP that runs Matomo's updatetoken.php
    enable_testmode: bool = False  # --config: updatetoken.php --testmode (Matomo's test environment)
    auth_user: str | None = None
    auth_password: str | None = dataclasses.field(default=None, repr=False)
    accept_invalid_ssl_certificate: bool = False
    ca_bundle: str | None = None  # PEM file of the CAs to trust instead of the system's
    client_cert: str | None = None  # PEM client certificate (TLS client authentication)
    client_key: str | None = None  # its key, when not in the certificate file
    request_suffix: str | None = None
    request_timeout: float = 300.0
    connect_timeout: float = 5.0  # seconds to open a connection (before --request-timeout runs)
    retry_max_attempts: int = 3
    retry_delay: float = 10.0

    # Sites.
    idsite: int | None = None
    idsite_fallback: int | None = None
    add_sites_new_hosts: bool = False
    max_new_sites: int = 50  # sites --add-sites-new-hosts may create in one run
    site_map: list = field(default_factory=list)  # [(fnmatch pattern, idsite)], first match wins
    hostnames: list[str] = field(default_factory=list)
    include_hosts: list[str] = field(default_factory=list)
    exclude_hosts: list[str] = field(default_factory=list)
    log_hostname: str | None = None

    # Formats.
    log_format_name: str | None = None
    log_format_regex: str | None = None
    log_format_apache: str | None = None  # an Apache LogFormat string
    log_format_nginx: str | None = None  # an nginx log_format string, "escape=json ..." allowed
    log_format_file: str | None = None  # an Apache or nginx config file holding the format
    log_format_ref: str | None = None  # the name of the format in that file
    log_date_format: str | None = None
    log_timezone: str | None = None  # IANA zone of dates written without an offset
    w3c_fields: str | None = None
    w3c_map_fields: dict[str, str] = field(default_factory=dict)
    w3c_field_regexes: dict[str, str] = field(default_factory=dict)
    w3c_time_taken_millisecs: bool = False
    ignore_groups: list[str] = field(default_factory=list)
    encoding: str = "utf8"
    dump_log_regex: bool = False
    test_format: str | None = None  # a log file whose first lines --test-format shows as fields

    # What is tracked.
    enable_static: bool = False
    enable_bots: bool = False
    enable_http_errors: bool = False
    enable_http_redirects: bool = False
    enable_reverse_dns: bool = False
    strip_query_string: bool = False
    query_string_delimiter: str = "?"
    exclude_paths: list[str] = field(default_factory=list)
    include_paths: list[str] = field(default_factory=list)
    useragent_excludes: list[str] = field(default_factory=list)
    useragent_exclude_regexes: list[str] = field(default_factory=list)
    bot_lists: list[str] = field(default_factory=list)  # --bot-list files
    not_bots: list[str] = field(default_factory=list)  # --not-bot patterns
    bots_as_matomo: bool = False
    bot_dimension: int | None = None  # visit custom dimension ID for the bot's name and category
    download_extensions: frozenset[str] = DOWNLOAD_EXTENSIONS
    exclude_older_than: str | None = None  # UTC, "YYYY-MM-DD HH:MM:SS"
    exclude_newer_than: str | None = None
    add_to_date: int = 0
    force_lowercase_path: bool = False
    title_category_delimiter: str = "/"
    track_http_method: bool = False
    visit_cvar_groups: dict[str, str] = field(default_factory=dict)
    page_cvar_groups: dict[str, str] = field(default_factory=dict)
    visit_dimension_groups: dict[str, int] = field(default_factory=dict)  # regex group -> dimension ID
    action_dimension_groups: dict[str, int] = field(default_factory=dict)
    replay_tracking: bool = False
    client_ip_from_forwarded_for: bool = False  # the client from the format's X-Forwarded-For field
    trusted_proxies: list[str] = field(default_factory=list)  # addresses or CIDR networks to skip there
    replay_tracking_expected_tracker_file: str | None = None

    # Running.
    recorders: int = 8  # sender threads: the most concurrent requests (--max-recorders with auto)
    auto_recorders: bool = True  # --recorders auto (the default): pacing.Pacer finds the limit, 1..recorders
    recorder_max_payload_size: int = 200
    bulk_tracking: bool = True
    force_one_hit_interval: float | None = None  # --debug-force-one-hit-every-Ns: seconds before each hit
    dry_run: bool = False
    show_progress: bool | None = None  # None: on when stderr is a terminal
    show_progress_delay: float = 1.0
    output: str | None = None
    skip: int = 0
    debug: int = 0
    debug_tracker: bool = False
    debug_request_limit: int | None = None
    workers: int | None = None  # parsing processes; None: one per available core
    state_dir: str | None = None  # None: $XDG_STATE_HOME/log-importer
    reimport: bool = False
    summary_json: str | None = None
    invalid_lines_file: str | None = None
    bulk_without_transactions: bool = False
    idle_flush: float = 1.0  # seconds without new lines on standard input before partial batches go
    last_line_complete: bool = False  # a plain file's last line without its line end is read (else left)
    options_file: str | None = None  # the --config-file (or default config file) that was read
    checkpoint_interval: float = 5.0
    chunk_bytes: int = 1 << 19
    command: tuple = ()  # the command line's arguments as given (the summary says how to continue)

    @property
    def tracker_url(self) -> str:
        return self.url.rstrip("/") + self.tracker_endpoint_path

    @property
    def api_endpoint(self) -> str:
        return (self.api_url or self.url).rstrip("/") + "/index.php"
