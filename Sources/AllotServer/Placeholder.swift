// AllotServer: see docs/.
