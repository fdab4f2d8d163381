package kafkatest

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Records returns how many records the partitions 0..partitions-1 of topic
// hold in all (the sum of their end offsets), asking the broker with one
// ListOffsets request; a partition the broker reports an error for counts
// 0. It reads nothing, so it is cheap enough to poll.
func Records(ctx context.Context, cl *kgo.Client, topic string, partitions int32) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < partitions; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // the end offset
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				n += p.Offset
			}
		}
	}
	return n, nil
}
