package walbus

// CommitStats returns how many commits the journal wrote and how many
// messages they appended.
func CommitStats(j *Journal) (commits, appended int64) { return j.commits.Load(), j.appended.Load() }
