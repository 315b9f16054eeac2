// The page's style sheet, inline in every page: system fonts, a readable measure, YAML beside its
// output on wide screens and above it on narrow ones, and print rules that keep a figure, a table
// or a YAML block on one page and print the figures' colours.

enum PageStyle {
    static let css = """
    :root { color-scheme: light; }
    * { box-sizing: border-box; }
    body { margin: 0; background: #fff; color: #222; font-family: \(SVGCanvas.fontFamily); font-size: 16px; line-height: 1.5; }
    main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 48px; }
    h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 .4em; overflow-wrap: anywhere; }
    h2 { font-size: 1.4rem; margin: 2em 0 .6em; padding-bottom: .2em; border-bottom: 1px solid #ddd; }
    h3 { font-size: 1.1rem; margin: 1.4em 0 .4em; }
    p { margin: .5em 0; max-width: 80ch; }
    a { color: #005a9c; }
    pre { margin: 0 0 1em; padding: 10px 12px; overflow-x: auto; background: #f6f8fa; border: 1px solid #e1e4e8; border-radius: 6px; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace; }
    figure { margin: 0 0 1.4em; }
    figure svg { display: block; }
    figcaption { margin-top: .3em; color: #555; font-size: .9rem; }
    .gallery-title { margin: 0 0 4px 10px; font-size: 15.5px; font-weight: 700; }
    .gallery .cells { display: flex; flex-wrap: wrap; }
    .gallery .cells svg { flex: none; }
    .side { display: grid; grid-template-columns: fit-content(45%) minmax(0, 1fr); gap: 24px; align-items: start; margin: 1em 0 1.6em; }
    .side .output > :first-child { margin-top: 0; }
    .table-wrap { overflow-x: auto; }
    table { border-collapse: collapse; margin: .4em 0 1.2em; font-size: .95rem; }
    caption { text-align: left; color: #555; padding-bottom: 4px; }
    th, td { padding: 4px 10px; text-align: left; vertical-align: top; border-bottom: 1px solid #e5e5e5; }
    th { border-bottom: 2px solid #bbb; }
    .num { text-align: right; font-variant-numeric: tabular-nums; }
    dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 16px; margin: .6em 0 1em; }
    dl.facts dt { color: #555; }
    dl.facts dd { margin: 0; overflow-wrap: anywhere; }
    .metrics { display: flex; flex-wrap: wrap; gap: 12px 40px; margin: .8em 0 1em; }
    .metric .value { display: block; font-size: 2.6rem; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
    .metric .label { color: #555; font-size: .9rem; }
    .callout { margin: 1em 0; padding: 8px 12px; border-left: 4px solid #0072b2; background: #eef5fb; }
    .callout.good { border-color: #00734f; background: #edf7f2; }
    .callout.warning { border-color: #e69f00; background: #fff7e6; }
    .callout.bad { border-color: #b83c00; background: #fcefe8; }
    nav.toc h2 { font-size: 1.1rem; margin: 1.2em 0 .3em; border: 0; }
    nav.toc ol { margin: 0; padding-left: 1.6em; max-width: 36em; columns: 2 14em; }
    footer { margin-top: 3em; color: #555; font-size: .9rem; }
    @media (max-width: 820px) {
      main { padding: 16px 12px 32px; }
      .side { grid-template-columns: minmax(0, 1fr); gap: 8px; }
      .metric .value { font-size: 2rem; }
    }
    @media print {
      * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
      body { font-size: 10.5pt; }
      main { max-width: none; padding: 0; }
      h2, h3 { break-after: avoid; }
      figure, pre, table, dl.facts, .metrics, .callout { break-inside: avoid; }
      figure.gallery { break-inside: auto; }
      .gallery .cells svg { break-inside: avoid; }
      .side { grid-template-columns: minmax(0, 1fr); gap: 6px; }
      pre { white-space: pre-wrap; overflow-wrap: anywhere; }
      a { color: inherit; text-decoration: none; }
    }
    @page { margin: 14mm; }

    """
}
