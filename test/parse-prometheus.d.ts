// The Prometheus text parser the metrics test uses has no types of its own.
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
