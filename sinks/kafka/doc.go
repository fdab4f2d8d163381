// Package kafka is the Kafka sink, on franz-go.
package kafka
