"""The benchmark provider endpoint: FCM-, APNs-, SNS-, SES-, Twilio- and SMTP-shaped answers
for a tenth (or less) of the behaviour sandbox's CPU, from a process of its own (`herald bench
endpoint`), so a benchmark's figures measure Herald rather than its provider stand-in:
about 40-150 us of CPU a request over HTTP/1.1, 250 us a mail over SMTP with STARTTLS and
600 us over APNs' HTTP/2 (the h2 library's pure-Python framing and HPACK), where the
sandbox spends 0.5-15 ms (docs/benchmarks.md).

It answers what Herald's real senders expect, refuses a request without the credentials they
send (in each provider's own error format), and counts what each provider took
(``GET /counts`` on the control port). It records no message and injects no fault: the
behaviour sandboxes (lab/sandboxes) stay for the tests. `EndpointProcess` runs one on the
sandbox profile's settings.
"""
