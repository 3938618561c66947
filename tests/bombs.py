"""Hostile documents the loading and CLI tests read."""

# An alias bomb ("billion laughs") in a cadence that is valid in every other way: 525 bytes
# whose payload expands to 9**9 = 387,420,489 strings. Read naively, it takes gigabytes and
# minutes to validate.
BOMB = """\
name: shop
channels: [{name: email}]
steps:
  - name: welcome
    trigger: {event: signed_up}
    channels: [email]
    payload:
      a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
      b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
      c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
      d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
      e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
      f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
      g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
      h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
      i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

# Where the count first passes 100,000 nodes: before line 13 (f), the document holds 74,758
# nodes (e alone is 1 + 9 * 7,381 = 66,430); the first *e on line 13 brings in 66,430 more.
BOMB_STOP = "line 13, column 14"
