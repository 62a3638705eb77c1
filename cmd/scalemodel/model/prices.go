package model

// Prices are list prices in USD, us-east-1 (AWS) and us-central1 (GCP),
// as read on 2026-12-04 from the pages each field cites (docs/scale.md
// lists them). Tiers and free tiers are monthly.
type Prices struct {
	// https://aws.amazon.com/api-gateway/pricing/ — HTTP APIs: $1.00 per
	// million for the first 300 million a month, $0.90 after.
	HTTPAPIPerMillion, HTTPAPIPerMillionOver300M float64
	// https://aws.amazon.com/lambda/pricing/ — Arm: $0.20 per million
	// requests; $0.0000133334 per GB-s for the first 7.5 billion GB-s a
	// month, $0.0000120001 for the next 11.25 billion, $0.0000106667
	// after; free: 1 million requests and 400,000 GB-s a month.
	LambdaRequestPerMillion                          float64
	LambdaGBSecond, LambdaGBSecond2, LambdaGBSecond3 float64
	LambdaFreeRequests, LambdaFreeGBSeconds          float64
	// https://aws.amazon.com/sqs/pricing/ — standard queue: $0.40 per
	// million requests (64 KB chunks) after 1 million free a month.
	SQSPerMillion, SQSFreeRequests float64
	// https://aws.amazon.com/dynamodb/pricing/on-demand/ — on demand:
	// $0.625 per million write request units, $0.125 per million read
	// request units (since the November 2024 price cut).
	DynamoWRUPerMillion, DynamoRRUPerMillion float64
	// https://aws.amazon.com/cloudwatch/pricing/ — Logs, Standard class:
	// $0.50 per GB ingested after 5 GB free a month.
	CloudWatchLogsPerGB, CloudWatchLogsFreeGB float64

	// https://cloud.google.com/run/pricing (Cloud Functions gen2 bill as
	// Cloud Run services, request-based billing, Tier 1): $0.40 per
	// million requests, $0.000024 per vCPU-s, $0.0000025 per GiB-s,
	// billed time rounded up to 100 ms; free: 2 million requests,
	// 180,000 vCPU-s and 360,000 GiB-s a month.
	RunRequestPerMillion, RunVCPUSecond, RunGiBSecond      float64
	RunFreeRequests, RunFreeVCPUSeconds, RunFreeGiBSeconds float64
	// https://cloud.google.com/firestore/pricing — Standard edition,
	// us-central1: $0.03 per 100,000 document reads, $0.09 per 100,000
	// writes, $0.01 per 100,000 deletes; free: 50,000 reads, 20,000
	// writes and 20,000 deletes a day.
	FirestoreReadPer100k, FirestoreWritePer100k, FirestoreDeletePer100k    float64
	FirestoreFreeReadsDay, FirestoreFreeWritesDay, FirestoreFreeDeletesDay float64
	// https://cloud.google.com/pubsub/pricing — $40 per TiB of publish
	// and delivery throughput, at least 1,000 bytes per publish, push or
	// pull request; first 10 GiB a month free.
	PubSubPerTiB, PubSubMinRequestBytes, PubSubFreeGiB float64
	// https://cloud.google.com/stackdriver/pricing — Cloud Logging: $0.50
	// per GiB ingested after 50 GiB per project a month.
	CloudLoggingPerGiB, CloudLoggingFreeGiB float64
	// https://cloud.google.com/vpc/network-pricing#lb — external
	// Application Load Balancer: $0.025 per hour for up to 5 forwarding
	// rules, $0.008 per GiB of data processed.
	LBForwardingRuleHour, LBPerGiBProcessed float64
}

// ListPrices are the prices as read on 2026-12-04.
func ListPrices() Prices {
	return Prices{
		HTTPAPIPerMillion: 1.00, HTTPAPIPerMillionOver300M: 0.90,
		LambdaRequestPerMillion: 0.20,
		LambdaGBSecond:          0.0000133334, LambdaGBSecond2: 0.0000120001, LambdaGBSecond3: 0.0000106667,
		LambdaFreeRequests: 1e6, LambdaFreeGBSeconds: 400_000,
		SQSPerMillion: 0.40, SQSFreeRequests: 1e6,
		DynamoWRUPerMillion: 0.625, DynamoRRUPerMillion: 0.125,
		CloudWatchLogsPerGB: 0.50, CloudWatchLogsFreeGB: 5,

		RunRequestPerMillion: 0.40, RunVCPUSecond: 0.000024, RunGiBSecond: 0.0000025,
		RunFreeRequests: 2e6, RunFreeVCPUSeconds: 180_000, RunFreeGiBSeconds: 360_000,
		FirestoreReadPer100k: 0.03, FirestoreWritePer100k: 0.09, FirestoreDeletePer100k: 0.01,
		FirestoreFreeReadsDay: 50_000, FirestoreFreeWritesDay: 20_000, FirestoreFreeDeletesDay: 20_000,
		PubSubPerTiB: 40, PubSubMinRequestBytes: 1000, PubSubFreeGiB: 10,
		CloudLoggingPerGiB: 0.50, CloudLoggingFreeGiB: 50,
		LBForwardingRuleHour: 0.025, LBPerGiBProcessed: 0.008,
	}
}
