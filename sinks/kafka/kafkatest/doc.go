// Package kafkatest helps tests of the kafka sink read back what it
// produced: a franz-go consumer that collects every record of some topics
// in the background. Tests run their brokers with kfake.
//
// A Consumer owns one goroutine (the poll loop); Close stops it and waits.
// Its methods are safe for concurrent use.
package kafkatest
