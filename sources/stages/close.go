package stages

// closer is a stage that holds something past its pipeline's life: the
// metrics stage's registered series, the limit stage's wait.
type closer interface{ Close() }

// Close releases what the stages hold outside the pipeline (the metrics
// stage unregisters its series; a limit stage waiting for a token stops
// waiting), nested match pipelines included. Entries still held are not
// handed on: call Flush first for that. Safe to call more than once; call
// it from any goroutine, once the pipeline's owner no longer needs it.
func (p *Pipeline) Close() {
	for _, s := range p.stages {
		closeStage(s)
	}
}

// closeStage releases what s holds (a match stage: its nested pipeline's).
func closeStage(s Stage) {
	switch s := s.(type) {
	case *matchStage:
		if s.pipeline != nil {
			s.pipeline.Close()
		}
	case closer:
		s.Close()
	}
}
