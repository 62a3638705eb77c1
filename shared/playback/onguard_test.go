package playback_test

import (
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

func TestOnGuard(t *testing.T) {
	t.Parallel()
	type guard struct{ v int }
	mine := &guard{v: 7}
	read := func(account string, g any) *playback.AdmissionRead {
		return &playback.AdmissionRead{Account: playback.Account{ID: account}, Guard: g}
	}
	tests := []struct {
		name    string
		on      *playback.AdmissionRead
		want    *guard
		wantErr bool
	}{
		{name: "no read: no guard", on: nil, want: nil},
		{name: "this store's read of the account", on: read("acct_1", mine), want: mine},
		{name: "another store's read", on: read("acct_1", struct{}{}), wantErr: true},
		{name: "a read of another account", on: read("acct_2", mine), wantErr: true},
		{name: "a read without a guard", on: read("acct_1", nil), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := playback.OnGuard[*guard](playback.LeaseRequest{AccountID: "acct_1", On: tt.on}, "teststore")
			if tt.wantErr {
				if e := playback.AsError(err); e.Code != playback.CodeInvalid || e.Reason != "lease_invalid" || got != nil {
					t.Fatalf("OnGuard = %v, %v; want nil and invalid lease_invalid", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("OnGuard = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
