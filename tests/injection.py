"""Script and markdown injection: text that would run, or link to script, if anything between
the database and the screen read it as HTML. Each calls `alert`, so a browser shows it runs."""

from __future__ import annotations

# Short enough to be chat titles (200 characters) too.
PAYLOADS = [
    "<script>alert('script')</script>",
    "<img src=x onerror=alert('img')>",
    "<svg onload=alert('svg')><circle r=1></svg>",
    "<iframe srcdoc=\"<script>parent.alert('iframe')</script>\"></iframe>",
    '"><script>alert("attribute")</script>',
    "</textarea></title><script>alert('closing')</script>",
    "<a href=\"javascript:alert('html link')\">html link</a>",
    "[md link](javascript:alert('md link'))",
    "[cased link](JaVaScRiPt:alert('cased'))",
    "[entity link](&#106;avascript:alert('entity'))",
    "[spaced link]( javascript:alert('spaced'))",
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgnZGF0YScpPC9zY3JpcHQ+)",
    "![md image](javascript:alert('md image'))",
    "<javascript:alert('autolink')>",
    "<details open ontoggle=alert('details')>x</details>",
    "<style>body{display:none}</style><b onmouseover=alert('style')>b</b>",
    "{{constructor.constructor('alert(\"template\")')()}} ${alert('dollar')}",
    "'; DROP TABLE chats; --",
]
