package authorizeplay

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Device management: a subscriber lists the account's registered devices,
// renames one, or removes one to free its slot for another.
//
// Removing a device races with plays from it. A play reads the account
// (with its leases), checks it, and admits its session in one atomic step
// conditioned on the account being as read (playback.LeaseRequest.On),
// registering a new device in that same step:
//
//   - DELETE removes the device from the account first, then ends the
//     device's sessions that a renewal could still extend, those whose
//     lease lapsed included (playback.EndSessions): a heartbeat that read
//     its lease just before the expiry renews after the removal looked.
//   - A removal that lands between a play's read and its admission changes
//     the account, so the admission is refused (account_changed) and the
//     play reads again: its device is gone, and it answers 409
//     device_removed without issuing a token.
//   - A removal after the admission finds the play's session in its
//     listing and ends it.
//
// Every store is linearizable for these reads (bbolt, DynamoDB with
// ConsistentRead, Firestore), so no session outlives its device's removal.
// A play that starts after the removal is a new registration and takes a
// slot under the plan's device limit like any other. Ending sessions
// first instead would leave a window between the two writes in which a
// play is admitted on the device about to go.
//
// If the DELETE fails after the removal (the store is down), it answers
// 5xx and its retry finishes the job: DELETE of a device no longer
// registered still ends its active sessions, and answers 404 only when
// there were none.

// maxDeviceName bounds a device name in characters, at play and on a
// rename.
const maxDeviceName = 128

// DeviceView is how a registered device is shown to its account.
type DeviceView struct {
	DeviceID     string    `json:"device_id"`
	Name         string    `json:"name,omitempty"`
	RegisteredAt time.Time `json:"registered_at"`
	// LastPlayedAt is when the device last started a play, to within a
	// day (playback.LastPlayedStep); absent when nothing recorded one.
	LastPlayedAt time.Time `json:"last_played_at,omitzero"`
	// LastSeenAt is the last heartbeat of the device's active session, if
	// it has one; nothing records when an idle device was last seen.
	LastSeenAt time.Time `json:"last_seen_at,omitzero"`
	// Playing reports whether a session is active on the device;
	// SessionID names it.
	Playing   bool   `json:"playing"`
	SessionID string `json:"session_id,omitempty"`
}

// DeviceList is the answer of GET /v1/devices.
type DeviceList struct {
	Devices []DeviceView `json:"devices"`
	// MaxDevices is the plan's device limit, 0 when the account has no
	// plan yet.
	MaxDevices int `json:"max_devices,omitempty"`
}

// RenameRequest is the body of PATCH /v1/devices/{id}.
type RenameRequest struct {
	Name *string `json:"name"`
}

// DeviceRemoval is the answer of DELETE /v1/devices/{id}.
type DeviceRemoval struct {
	DeviceID string `json:"device_id"`
	// Removed is false when the device was already gone and this call
	// only ended sessions a failed earlier removal left running.
	Removed bool `json:"removed"`
	// EndedSessions are the device's sessions whose lease this call took:
	// a lapsed one it also ended (so that no late heartbeat renews it) is
	// not listed, as it was not playing.
	EndedSessions []SessionView `json:"ended_sessions"`
}

func deviceView(d playback.Device, active []playback.Session) DeviceView {
	v := DeviceView{DeviceID: d.ID, Name: d.Name, RegisteredAt: d.RegisteredAt, LastPlayedAt: d.LastPlayedAt}
	for _, s := range active {
		if s.DeviceID == d.ID {
			v.Playing, v.SessionID, v.LastSeenAt = true, s.ID, s.LastSeenAt
		}
	}
	return v
}

func deviceIDOf(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !playback.ValidID(id) {
		return "", playback.Errorf(playback.CodeInvalid, "device_id", "device id must be %s", playback.IDRule)
	}
	return id, nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	who, err := s.deps.Identity.Authenticate(r)
	if err != nil {
		return err
	}
	if err := httpx.CheckQuery(r); err != nil {
		return err
	}
	ctx := r.Context()
	acct, err := s.deps.Store.GetAccount(ctx, who.AccountID)
	if playback.IsCode(err, playback.CodeNotFound) {
		// No account (a checkout not landed yet, an account deleted), no
		// devices: a list, answered as GET /v1/sessions answers it.
		httpx.WriteJSON(w, http.StatusOK, deviceList(nil, nil, 0))
		return nil
	}
	if err != nil {
		return err
	}
	active, err := s.deps.Store.ListActiveSessions(ctx, acct.ID, s.deps.Now())
	if err != nil {
		return err
	}
	maxDevices := 0
	if acct.PlanID != "" {
		plan, err := s.deps.Store.GetPlan(ctx, acct.PlanID)
		switch {
		case err == nil:
			maxDevices = plan.MaxDevices
		case !playback.IsCode(err, playback.CodeNotFound):
			return err
		}
	}
	httpx.WriteJSON(w, http.StatusOK, deviceList(acct.Devices, active, maxDevices))
	return nil
}

// deviceList shows devices with their active sessions, the answer of GET
// /v1/devices and the details of a play's device_limit refusal.
func deviceList(devices []playback.Device, active []playback.Session, maxDevices int) DeviceList {
	out := DeviceList{Devices: make([]DeviceView, 0, len(devices)), MaxDevices: maxDevices}
	for _, d := range devices {
		out.Devices = append(out.Devices, deviceView(d, active))
	}
	return out
}

// validDeviceName checks a name a subscriber chose: it is shown in lists
// on other screens, so no control characters, and not blank.
func validDeviceName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return playback.Errorf(playback.CodeInvalid, "device_name", "name must not be blank")
	case !utf8.ValidString(name):
		return playback.Errorf(playback.CodeInvalid, "device_name", "name is not UTF-8")
	case utf8.RuneCountInString(name) > maxDeviceName:
		// Characters, as the document's maxLength (JSON Schema) counts.
		return playback.Errorf(playback.CodeInvalid, "device_name", "name is longer than %d characters", maxDeviceName)
	case strings.ContainsFunc(name, unicode.IsControl):
		return playback.Errorf(playback.CodeInvalid, "device_name", "name contains control characters")
	}
	return nil
}

func (s *Server) renameDevice(w http.ResponseWriter, r *http.Request) error {
	who, err := s.deps.Identity.Authenticate(r)
	if err != nil {
		return err
	}
	if err := httpx.CheckQuery(r); err != nil {
		return err
	}
	id, err := deviceIDOf(r)
	if err != nil {
		return err
	}
	var req RenameRequest
	if err := httpx.DecodeJSON(r, &req, s.cfg.MaxBody); err != nil {
		return err
	}
	if req.Name == nil {
		return playback.Errorf(playback.CodeInvalid, "device_name", "name is required")
	}
	if err := validDeviceName(*req.Name); err != nil {
		return err
	}
	ctx := r.Context()
	now := s.deps.Now()
	acct, err := s.deps.Store.UpdateAccount(ctx, who.AccountID, func(a *playback.Account) error {
		i := slices.IndexFunc(a.Devices, func(d playback.Device) bool { return d.ID == id })
		switch {
		case i < 0:
			return playback.NotFound("device", id)
		case a.Devices[i].Name == *req.Name:
			return playback.ErrNoChange
		}
		a.Devices = slices.Clone(a.Devices)
		a.Devices[i].Name = *req.Name
		a.UpdatedAt = now
		return nil
	})
	if err != nil {
		return err
	}
	active, err := s.deps.Store.ListActiveSessions(ctx, acct.ID, now)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(acct.Devices, func(d playback.Device) bool { return d.ID == id })
	if i < 0 {
		return playback.NotFound("device", id) // removed right after the rename
	}
	httpx.WriteJSON(w, http.StatusOK, deviceView(acct.Devices[i], active))
	return nil
}

func (s *Server) removeDevice(w http.ResponseWriter, r *http.Request) error {
	who, err := s.deps.Identity.Authenticate(r)
	if err != nil {
		return err
	}
	if err := httpx.CheckQuery(r); err != nil {
		return err
	}
	id, err := deviceIDOf(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := s.deps.Now()
	removed := false
	_, err = s.deps.Store.UpdateAccount(ctx, who.AccountID, func(a *playback.Account) error {
		removed = false
		i := slices.IndexFunc(a.Devices, func(d playback.Device) bool { return d.ID == id })
		if i < 0 {
			return playback.ErrNoChange
		}
		removed = true
		a.Devices = slices.Delete(slices.Clone(a.Devices), i, i+1)
		a.UpdatedAt = now
		return nil
	})
	if err != nil {
		return err
	}
	// After the removal (see the comment at the top): a play admitted
	// before it is listed here.
	ended, err := s.endDeviceSessions(ctx, who.AccountID, id, now)
	if err != nil {
		return err
	}
	if !removed && len(ended) == 0 {
		return playback.NotFound("device", id)
	}
	httpx.Logger(ctx).InfoContext(ctx, "device removed", "account_id", who.AccountID, "device_id", id,
		"removed", removed, "sessions_ended", len(ended))
	httpx.WriteJSON(w, http.StatusOK, DeviceRemoval{DeviceID: id, Removed: removed, EndedSessions: ended})
	return nil
}

// endDeviceSessions ends the device's sessions and shows those that held
// a lease.
func (s *Server) endDeviceSessions(ctx context.Context, accountID, deviceID string, now time.Time) ([]SessionView, error) {
	done, err := playback.EndSessions(ctx, s.deps.Store, accountID, playback.EndDeviceRemoved, now,
		func(sess playback.Session) bool { return sess.DeviceID == deviceID })
	if err != nil {
		return nil, fmt.Errorf("authorizeplay: ending the sessions of removed device %s: %w", deviceID, err)
	}
	ended := make([]SessionView, 0, len(done))
	for _, sess := range done {
		ended = append(ended, view(sess))
	}
	return ended, nil
}
