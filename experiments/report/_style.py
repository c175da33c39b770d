"""The page's embedded stylesheet and the Content-Security-Policy that keeps it offline."""

_CSS = """
:root { --pos: #1a7f37; --neg: #cf222e; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --head: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5; font-size: 15px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 24px 64px; }
h1 { font-size: 28px; margin: 0 0 6px; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 40px 0 8px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
.meta { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 0; color: var(--muted);
  font-size: 13px; }
.meta div { display: flex; gap: 6px; } .meta dt { font-weight: 600; } .meta dd { margin: 0; }
.toc { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 16px 0 0; font-size: 13px; }
.toc a { color: var(--accent); text-decoration: none; } .toc a:hover { text-decoration: underline; }
#srm-banner { margin: 18px 0 0; border-radius: 8px; }
#srm-banner.flagged { padding: 16px 20px; background: #ffebe9; border: 3px solid var(--neg);
  color: #82071e; }
#srm-banner.flagged .headline { font-size: 19px; font-weight: 700; margin: 0 0 8px; }
#srm-banner.flagged p, #srm-banner.flagged ul { margin: 4px 0; }
#srm-banner.ok { display: inline-block; padding: 4px 12px; background: #dafbe1; color: #116329;
  font-size: 13px; border: 1px solid #aceebb; }
#srm-banner.none { display: inline-block; padding: 4px 12px; background: var(--head);
  color: var(--muted); font-size: 13px; }
.lede { font-size: 15px; color: var(--muted); margin: 4px 0 12px; }
.intro { color: var(--muted); margin: 0 0 12px; max-width: 80ch; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 4px 18px 8px;
  background: #fcfdfe; }
.card h3 { margin-top: 12px; font-size: 17px; }
.card > ul { padding-left: 18px; } .card > ul > li { margin-bottom: 10px; }
ul.segments { padding-left: 18px; margin: 4px 0 0; color: var(--muted); font-size: 14px; }
.badge { display: inline-block; font-size: 12px; padding: 0 8px; border-radius: 10px;
  white-space: nowrap; vertical-align: 1px; }
.badge.sig { background: #dafbe1; color: #116329; }
.badge.ns { background: #eff2f5; color: var(--muted); }
.pos { color: var(--pos); } .neg { color: var(--neg); }
.table-wrap { overflow: auto; max-height: 80vh; width: fit-content; max-width: 100%;
  border: 1px solid var(--line); border-radius: 6px; margin: 8px 0 20px; }
table { border-collapse: separate; border-spacing: 0; font-size: 13px; }
caption { caption-side: top; text-align: left; padding: 8px 10px; color: var(--muted);
  font-size: 13px; }
th, td { padding: 5px 9px; border-bottom: 1px solid #eaeef2; text-align: left;
  vertical-align: top; }
thead th { position: sticky; top: 0; z-index: 1; background: var(--head); font-weight: 600;
  border-bottom: 1px solid var(--line); vertical-align: bottom; }
tr.group th { background: #fbfcfd; color: var(--muted); font-weight: 600; font-size: 12px;
  text-transform: uppercase; letter-spacing: 0.04em; padding-top: 10px; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover td { background: #f6f8fa; }
tr.sig td.pos, tr.sig td.neg { font-weight: 650; }
tr.variant td { color: var(--muted); font-size: 12px; }
tr.variant td:nth-child(3) { padding-left: 20px; }
tr.variant td.pos { color: var(--pos); } tr.variant td.neg { color: var(--neg); }
tr.flagged td { background: #fff1f0; }
.note { display: block; font-size: 11px; color: var(--muted); font-weight: 400; }
.ci { color: var(--muted); font-weight: 400; font-size: 12px; white-space: nowrap; }
td.breakable, th.num { white-space: normal; }
table.results td:first-child, table.send-vs-holdout td:first-child { min-width: 8em; }
.nowrap { white-space: nowrap; }
.star { color: #9a6700; font-size: 14px; }
figure { margin: 8px 0 20px; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 4px; max-width: 90ch; }
.empty { color: var(--muted); font-style: italic; }
.glossary dt { font-weight: 600; margin-top: 10px; }
.glossary dd { margin: 2px 0 0 0; max-width: 85ch; }
footer { margin-top: 48px; color: var(--muted); font-size: 12px; }
a { color: var(--accent); }
@media print { .table-wrap { max-height: none; overflow: visible; } thead th { position: static; } }
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
