package model

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// ItemSizes are the DynamoDB item sizes, in bytes, of the records a
// session touches: shared/dynamo stores each record as its JSON in a "doc"
// attribute next to its keys and the few attributes conditions test, and
// an item's size is the lengths of its attribute names and values
// (numbers about 1 byte per two digits). Sizes come from marshalling
// realistic records (demo catalogue, a household with 3 devices, a
// session mid-stream), see Sizes.
type ItemSizes struct {
	Session, Slot, DeviceLock, Progress, QoE, Account, Plan, Title, Edge int
}

// Sizes marshals the records and adds up their items.
func Sizes() ItemSizes {
	now := time.Date(2026, 12, 4, 21, 0, 0, 123456789, time.UTC)
	id := func(prefix string) string { return prefix + "_abcdefghijklmnopqrstuvwxyz" } // playback.NewID: prefix + 26 base32
	sess := playback.Session{ID: id("ses"), AccountID: id("acct"), DeviceID: "living-room-tv", TitleID: "tears-of-steel",
		StartedAt: now.Add(-20 * time.Minute), LastSeenAt: now, ExpiresAt: now.Add(2 * time.Minute)}
	prog := playback.Progress{AccountID: sess.AccountID, TitleID: sess.TitleID, SessionID: sess.ID, DeviceID: sess.DeviceID,
		PositionMS: 1_234_000, DurationMS: 5_400_000, DeviceTime: now, UpdatedAt: now}
	qoe := playback.SessionQoE{SessionID: sess.ID, AccountID: sess.AccountID, TitleID: sess.TitleID, EdgeID: "edge-fra-1",
		DeviceTime: now, Heartbeats: 40, UpdatedAt: now, QoE: playback.QoE{BitrateKbps: 3000, BufferMS: 12000, ThroughputKbps: 25000,
			StartupMS: 900, RebufferCount: 1, RebufferMS: 1200, PlayedMS: 1_200_000, CDN: "cloudfront", EdgeID: "edge-fra-1"}}
	acct := sampleAccount(sess.AccountID, now)
	var title playback.Title
	for _, t := range demo.Titles(now) {
		if t.ID == sess.TitleID {
			title = t
		}
	}
	edge := demo.Edges("https://cdn.example", now)[0]
	const num = 12 // a nanosecond timestamp or a version: ~20 digits
	doc := func(v any) int {
		b, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("model.Sizes: %v", err))
		}
		return len("doc") + len(b)
	}
	keys := func(pk, sk string) int { return len("pk") + len(pk) + len("sk") + len(sk) }
	return ItemSizes{
		Session:    keys("SES#"+sess.ID, "SESSION") + doc(sess) + len("exp") + num + len("ttl") + num + len("version") + num + len("slot") + 2,
		Slot:       keys("ACCT#"+acct.ID, "SLOT#0") + len("session") + len(sess.ID) + doc(sess) + len("exp") + num + len("ttl") + num,
		DeviceLock: keys("ACCT#"+acct.ID, "SLOT#DEVICE#"+sess.DeviceID) + len("session") + len(sess.ID) + len("slot") + 2,
		Progress:   keys("ACCT#"+acct.ID, "PROG#"+prog.TitleID) + doc(prog) + len("device_time") + num,
		QoE:        keys("SES#"+sess.ID, "QOE") + doc(qoe) + len("device_time") + num + len("ttl") + num,
		Account:    keys("ACCT#"+acct.ID, "ACCOUNT") + doc(acct) + len("version") + num,
		Plan:       keys("PLAN#"+demo.Plans[1].ID, "PLAN") + doc(demo.Plans[1]),
		Title:      keys("TITLE#"+title.ID, "TITLE") + doc(title),
		Edge:       keys("EDGES#0", "EDGE#"+edge.ID) + doc(edge) + len("version") + num,
	}
}

// sampleAccount is the household Sizes measures: the demo family with 3
// registered devices, each played within the day (Account.Played records
// a device's last play with its registration and then once a day).
func sampleAccount(id string, now time.Time) playback.Account {
	acct := demo.Accounts(now)[0]
	acct.ID = id
	for _, d := range []string{"living-room-tv", "phone", "laptop"} {
		acct.Devices = append(acct.Devices, playback.Device{ID: d, Name: "Device " + d, RegisteredAt: now, LastPlayedAt: now})
	}
	return acct
}

func rruOf(size int) float64 { return math.Ceil(float64(size) / 4096) } // strongly consistent: 1 per 4 KB
func wruOf(size int) float64 { return math.Ceil(float64(size) / 1024) } // 1 per 1 KB; transactions 2

// Units is what one store method costs on a backend.
type Units struct {
	RRU, WRU float64 // DynamoDB on demand
	// Firestore document reads, writes (guard documents included) and
	// deletes the client sends; Guards of the writes are guard documents,
	// which TTL deletes later (billed as a delete each).
	Reads, Writes, Deletes, Guards float64
	// RoundTrips is the method's sequential calls to the database, for
	// the function's duration.
	DynamoTrips, FirestoreTrips float64
}

// StoreUnits maps every store method a session uses to its units, read
// from shared/dynamo and shared/firestore:
//
// DynamoDB: every GetItem is strongly consistent (dynamo.Store.get).
// ReadAdmission reads the account and queries its slots side by side;
// AcquireLease on that read writes the session, a slot and the device lock
// in one transaction with a condition check on the account and, for a
// device that played before (the sample household's), one on the slot its
// lock names, that it does not hold the lock's session (the slots
// query is read-committed, not a snapshot; 2 WRU per KB each, the checks
// priced as writes). ExtendLease writes the session and
// its slot in one transaction; EndSession reads the session first and
// deletes the slot; RenewLease decides on its own read: a GetItem alone
// while the lease is fresh, and the transaction after it when not
// (RenewLeaseWritten). A renewal or extension of a lease the instance read
// or wrote last needs no read (the adapter's lease memo): priced so, as a
// session's beats reaching the instance that served its last one (one
// more GetItem, 1 RRU, each time they do not). SaveProgress and
// SaveSessionQoE are one conditional PutItem each.
//
// Firestore (counted on the emulator by TestFirestoreUnitsOnTheEmulator,
// for a returning household whose documents exist): every write of an
// existing document is guarded (a guard document created beside it,
// deleted later by TTL) and a multi-document write is one batched write
// (a single Commit, preconditions on the documents read; no
// BeginTransaction). ReadAdmission reads the account and queries the slots
// (3 reads); AcquireLease on it writes session + guarded slot + guarded
// device lock + the guarded account (rewritten as read: its guard is the
// admission's condition); EndSession reads session and slot, then writes
// guard + slot + session; ExtendLease and a writing RenewLease do the same
// writes without the reads when the instance wrote the lease last (the
// adapter's lease memo, priced so; else 2 reads and 2 more round trips); a
// fresh RenewLease reads the session only;
// the device-time gated saves read the document, then write guard +
// document. A session's first QoE save creates it (one write): priced as
// the others.
func StoreUnits(s ItemSizes) map[string]Units {
	return map[string]Units{
		"GetAccount":    {RRU: rruOf(s.Account), Reads: 1, DynamoTrips: 1, FirestoreTrips: 1},
		"GetPlan":       {RRU: rruOf(s.Plan), Reads: 1, DynamoTrips: 1, FirestoreTrips: 1},
		"GetTitle":      {RRU: rruOf(s.Title), Reads: 1, DynamoTrips: 1, FirestoreTrips: 1},
		"GetSession":    {RRU: rruOf(s.Session), Reads: 1, DynamoTrips: 1, FirestoreTrips: 1},
		"GetProgress":   {RRU: rruOf(s.Progress), Reads: 1, DynamoTrips: 1, FirestoreTrips: 1},
		"GetSessionQoE": {RRU: rruOf(s.QoE), Reads: 1, DynamoTrips: 1, FirestoreTrips: 1},
		"ReadAdmission": {RRU: rruOf(s.Account) + rruOf(2*s.Slot+s.DeviceLock), Reads: 3, DynamoTrips: 2, FirestoreTrips: 2},
		"AcquireLease": {WRU: 2 * (wruOf(s.Session) + 2*wruOf(s.Slot) + wruOf(s.DeviceLock) + wruOf(s.Account)),
			Writes: 7, Guards: 3, DynamoTrips: 1, FirestoreTrips: 1},
		"ExtendLease": {WRU: 2 * (wruOf(s.Session) + wruOf(s.Slot)),
			Writes: 3, Guards: 1, DynamoTrips: 1, FirestoreTrips: 1},
		"RenewLease": {RRU: rruOf(s.Session), Reads: 1, DynamoTrips: 1, FirestoreTrips: 1},
		RenewLeaseWritten: {WRU: 2 * (wruOf(s.Session) + wruOf(s.Slot)),
			Writes: 3, Guards: 1, DynamoTrips: 1, FirestoreTrips: 1},
		"EndSession": {RRU: rruOf(s.Session), WRU: 2 * (wruOf(s.Session) + wruOf(s.Slot)),
			Reads: 2, Writes: 3, Guards: 1, DynamoTrips: 2, FirestoreTrips: 3},
		"SaveProgress":   {WRU: wruOf(s.Progress), Reads: 1, Writes: 2, Guards: 1, DynamoTrips: 1, FirestoreTrips: 2},
		"SaveSessionQoE": {WRU: wruOf(s.QoE), Reads: 1, Writes: 2, Guards: 1, DynamoTrips: 1, FirestoreTrips: 2},
		"UpdateAccount":  {RRU: rruOf(s.Account), WRU: wruOf(s.Account), Reads: 1, Writes: 2, Guards: 1, DynamoTrips: 2, FirestoreTrips: 2},
	}
}
