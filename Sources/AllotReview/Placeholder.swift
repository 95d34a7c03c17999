// AllotReview: see docs/.
