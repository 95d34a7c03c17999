// AllotStore: see docs/.
