package otlpproto

// ExportLogsServiceRequest.
const (
	RequestResourceLogs = 1 // resource_logs
)

// ResourceLogs, Resource, ScopeLogs and InstrumentationScope.
const (
	RLResource         = 1 // ResourceLogs.resource
	RLScopeLogs        = 2 // ResourceLogs.scope_logs
	ResourceAttributes = 1 // Resource.attributes
	SLScope            = 1 // ScopeLogs.scope
	SLLogRecords       = 2 // ScopeLogs.log_records
	ScopeName          = 1 // InstrumentationScope.name
	ScopeVersion       = 2 // InstrumentationScope.version
	ScopeAttributes    = 3 // InstrumentationScope.attributes
)

// LogRecord.
const (
	LRTime           = 1  // time_unix_nano, fixed64
	LRSeverityNumber = 2  // severity_number, enum
	LRSeverityText   = 3  // severity_text
	LRBody           = 5  // body, AnyValue
	LRAttributes     = 6  // attributes, KeyValue
	LRDropped        = 7  // dropped_attributes_count
	LRTraceID        = 9  // trace_id, 16 bytes
	LRSpanID         = 10 // span_id, 8 bytes
	LRObservedTime   = 11 // observed_time_unix_nano, fixed64
	LREventName      = 12 // event_name
)

// KeyValue, AnyValue, ArrayValue and KeyValueList.
const (
	KVKey      = 1 // KeyValue.key
	KVValue    = 2 // KeyValue.value, AnyValue
	AnyString  = 1 // AnyValue.string_value
	AnyBool    = 2 // AnyValue.bool_value
	AnyInt     = 3 // AnyValue.int_value
	AnyDouble  = 4 // AnyValue.double_value, fixed64
	AnyArray   = 5 // AnyValue.array_value: ArrayValue{1: repeated AnyValue}
	AnyKVList  = 6 // AnyValue.kvlist_value: KeyValueList{1: repeated KeyValue}
	AnyBytes   = 7 // AnyValue.bytes_value
	ListValues = 1 // ArrayValue.values, KeyValueList.values
)
