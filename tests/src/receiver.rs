//! An OTLP receiver in the test process: gRPC (tonic) and HTTP/protobuf (axum) on 127.0.0.1,
//! decoding with `opentelemetry-proto`, keeping every span, metric and log record it receives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};
use opentelemetry_proto::tonic::trace::v1::Span;

/// A span as it arrived, with its resource's attributes.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// The span.
    pub span: Span,
    /// The attributes of the resource it came with (`service.name`, ...).
    pub resource: Vec<KeyValue>,
}

impl ReceivedSpan {
    /// The value of attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.span.attributes, key)
    }

    /// The value of resource attribute `key`.
    pub fn resource_attr(&self, key: &str) -> Option<&Value> {
        find(&self.resource, key)
    }

    /// The string attribute `key`.
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        match self.attr(key) {
            Some(Value::StringValue(value)) => Some(value),
            _ => None,
        }
    }
}

/// A log record as it arrived, with its resource's attributes.
#[derive(Clone, Debug)]
pub struct ReceivedLog {
    /// The record.
    pub record: LogRecord,
    /// The attributes of the resource it came with.
    pub resource: Vec<KeyValue>,
}

impl ReceivedLog {
    /// The value of attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        find(&self.record.attributes, key)
    }

    /// The body, when it is a string.
    pub fn body(&self) -> Option<&str> {
        match self
            .record
            .body
            .as_ref()
            .and_then(|body| body.value.as_ref())
        {
            Some(Value::StringValue(text)) => Some(text),
            _ => None,
        }
    }
}

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value| value.value.as_ref())
}

type Store = Arc<Mutex<Vec<ReceivedSpan>>>;
type MetricStore = Arc<Mutex<Vec<Metric>>>;
type LogStore = Arc<Mutex<Vec<ReceivedLog>>>;

fn keep_logs(store: &LogStore, request: ExportLogsServiceRequest) {
    let mut logs = store.lock().unwrap_or_else(PoisonError::into_inner);
    for resource_logs in request.resource_logs {
        let resource = resource_logs
            .resource
            .map(|resource| resource.attributes)
            .unwrap_or_default();
        for scope_logs in resource_logs.scope_logs {
            for record in scope_logs.log_records {
                logs.push(ReceivedLog {
                    record,
                    resource: resource.clone(),
                });
            }
        }
    }
}

struct GrpcLogs(LogStore);

#[tonic::async_trait]
impl LogsService for GrpcLogs {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        keep_logs(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

fn keep_metrics(store: &MetricStore, request: ExportMetricsServiceRequest) {
    let mut metrics = store.lock().unwrap_or_else(PoisonError::into_inner);
    for resource_metrics in request.resource_metrics {
        for scope_metrics in resource_metrics.scope_metrics {
            metrics.extend(scope_metrics.metrics);
        }
    }
}

struct GrpcMetrics(MetricStore);

#[tonic::async_trait]
impl MetricsService for GrpcMetrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        keep_metrics(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn keep(store: &Store, request: ExportTraceServiceRequest) {
    let mut spans = store.lock().unwrap_or_else(PoisonError::into_inner);
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|resource| resource.attributes)
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                spans.push(ReceivedSpan {
                    span,
                    resource: resource.clone(),
                });
            }
        }
    }
}

/// The trace service, answering each export after `delay`: a backend slower than the
/// application when it is not zero.
struct Grpc(Store, Duration, Option<Arc<std::sync::atomic::AtomicU64>>);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        tokio::time::sleep(self.1).await;
        match &self.2 {
            // Counted, not kept: a soak's million spans would weigh on the process measured.
            Some(count) => {
                let spans: usize = request
                    .into_inner()
                    .resource_spans
                    .iter()
                    .flat_map(|resource| &resource.scope_spans)
                    .map(|scope| scope.spans.len())
                    .sum();
                count.fetch_add(spans as u64, std::sync::atomic::Ordering::Relaxed);
            }
            None => keep(&self.0, request.into_inner()),
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/HTTP endpoint: decodes the protobuf request `Req`, hands it to `handle`, and answers
/// with its protobuf response (or 400 when the body is not a `Req`).
fn protobuf_endpoint<Req, Resp>(
    handle: impl Fn(Req) -> Resp + Clone + Send + Sync + 'static,
) -> axum::routing::MethodRouter
where
    Req: prost::Message + Default + 'static,
    Resp: prost::Message + 'static,
{
    axum::routing::post(move |body: axum::body::Bytes| {
        let handle = handle.clone();
        async move {
            match Req::decode(body) {
                Ok(request) => (
                    axum::http::StatusCode::OK,
                    [("content-type", "application/x-protobuf")],
                    handle(request).encode_to_vec(),
                ),
                Err(_) => (
                    axum::http::StatusCode::BAD_REQUEST,
                    [("content-type", "text/plain")],
                    b"not an OTLP export request".to_vec(),
                ),
            }
        }
    })
}

/// A running receiver; stopped when dropped.
pub struct Receiver {
    /// Where the gRPC endpoint listens.
    pub grpc: SocketAddr,
    /// Where the HTTP endpoint listens (`POST /v1/traces`).
    pub http: SocketAddr,
    store: Store,
    metrics: MetricStore,
    logs: LogStore,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("grpc", &self.grpc)
            .field("http", &self.http)
            .finish()
    }
}

impl Receiver {
    /// Starts both endpoints on free ports of 127.0.0.1.
    pub fn start() -> Self {
        Self::start_slow(Duration::ZERO)
    }

    /// Starts both endpoints, the gRPC one answering each trace export after `delay`: a
    /// backend that accepts more slowly than the application produces.
    pub fn start_slow(delay: Duration) -> Self {
        Self::start_with(delay, None)
    }

    /// Starts both endpoints, the gRPC one counting the spans it receives into `count` rather
    /// than keeping them.
    pub fn start_counting(count: Arc<std::sync::atomic::AtomicU64>) -> Self {
        Self::start_with(Duration::ZERO, Some(count))
    }

    fn start_with(delay: Duration, count: Option<Arc<std::sync::atomic::AtomicU64>>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the receiver");
        let store = Store::default();
        let metrics = MetricStore::default();
        let logs = LogStore::default();
        let (grpc, http) = runtime.block_on(async {
            let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binds");
            let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binds");
            let addresses = (
                grpc_listener.local_addr().expect("an address"),
                http_listener.local_addr().expect("an address"),
            );
            let service = TraceServiceServer::new(Grpc(store.clone(), delay, count));
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(service)
                    .add_service(MetricsServiceServer::new(GrpcMetrics(metrics.clone())))
                    .add_service(LogsServiceServer::new(GrpcLogs(logs.clone())))
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
                        grpc_listener,
                    )),
            );
            let (http_store, http_metrics, http_logs) =
                (store.clone(), metrics.clone(), logs.clone());
            let app = axum::Router::new()
                .route(
                    "/v1/traces",
                    protobuf_endpoint(move |request: ExportTraceServiceRequest| {
                        keep(&http_store, request);
                        ExportTraceServiceResponse::default()
                    }),
                )
                .route(
                    "/v1/metrics",
                    protobuf_endpoint(move |request: ExportMetricsServiceRequest| {
                        keep_metrics(&http_metrics, request);
                        ExportMetricsServiceResponse::default()
                    }),
                )
                .route(
                    "/v1/logs",
                    protobuf_endpoint(move |request: ExportLogsServiceRequest| {
                        keep_logs(&http_logs, request);
                        ExportLogsServiceResponse::default()
                    }),
                );
            tokio::spawn(async move { axum::serve(http_listener, app).await });
            addresses
        });
        Self {
            grpc,
            http,
            store,
            metrics,
            logs,
            runtime: Some(runtime),
        }
    }

    /// Every data point of the sum metric `name` received so far, with its attributes.
    pub fn sum_points(&self, name: &str) -> Vec<Point> {
        let metrics = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        let mut points = Vec::new();
        for metric in metrics.iter().filter(|metric| metric.name == name) {
            if let Some(metric::Data::Sum(sum)) = &metric.data {
                for point in &sum.data_points {
                    points.push(Point {
                        attributes: text_attributes(&point.attributes),
                        time_unix_nano: point.time_unix_nano,
                        value: match point.value {
                            Some(number_data_point::Value::AsDouble(value)) => value,
                            Some(number_data_point::Value::AsInt(value)) => value as f64,
                            None => f64::NAN,
                        },
                    });
                }
            }
        }
        points
    }

    /// The sum (and count, in `count`) of every data point of the histogram `name`.
    pub fn histogram_points(&self, name: &str) -> Vec<(Point, u64)> {
        let metrics = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        let mut points = Vec::new();
        for metric in metrics.iter().filter(|metric| metric.name == name) {
            if let Some(metric::Data::Histogram(histogram)) = &metric.data {
                for point in &histogram.data_points {
                    points.push((
                        Point {
                            attributes: text_attributes(&point.attributes),
                            time_unix_nano: point.time_unix_nano,
                            value: point.sum.unwrap_or(f64::NAN),
                        },
                        point.count,
                    ));
                }
            }
        }
        points
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every log record received so far.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until at least `count` spans arrived, or `timeout` passed; returns them.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= count || Instant::now() >= deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A metric data point: its attributes as text, its time and its value.
#[derive(Clone, Debug)]
pub struct Point {
    /// Each attribute, as text, sorted by key.
    pub attributes: Vec<(String, String)>,
    /// When it was taken.
    pub time_unix_nano: u64,
    /// The value, or a histogram's sum.
    pub value: f64,
}

/// Of cumulative points, the last one of each attribute set: the totals.
pub fn latest(points: Vec<Point>) -> HashMap<Vec<(String, String)>, f64> {
    let mut latest: HashMap<Vec<(String, String)>, (u64, f64)> = HashMap::new();
    for point in points {
        let entry = latest.entry(point.attributes).or_insert((0, 0.0));
        if point.time_unix_nano >= entry.0 {
            *entry = (point.time_unix_nano, point.value);
        }
    }
    latest
        .into_iter()
        .map(|(attributes, (_, value))| (attributes, value))
        .collect()
}

fn text_attributes(attributes: &[KeyValue]) -> Vec<(String, String)> {
    let mut text: Vec<(String, String)> = attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|value| value.value.as_ref()) {
                Some(Value::StringValue(text)) => text.clone(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            };
            (kv.key.clone(), value)
        })
        .collect();
    text.sort();
    text
}

/// Spans grouped by trace id.
pub fn by_trace(spans: &[ReceivedSpan]) -> HashMap<Vec<u8>, Vec<&ReceivedSpan>> {
    let mut traces: HashMap<Vec<u8>, Vec<&ReceivedSpan>> = HashMap::new();
    for span in spans {
        traces
            .entry(span.span.trace_id.clone())
            .or_default()
            .push(span);
    }
    traces
}
