package steering

import "math"

// earthRadiusKm is the mean Earth radius (IUGG).
const earthRadiusKm = 6371.0088

// vec3 is a point on the unit sphere. Ranking compares many edges against one
// client, so edges carry their vector precomputed and a distance costs a dot
// product instead of the trigonometry of haversine.
type vec3 struct{ x, y, z float64 }

func unitVector(lat, lon float64) vec3 {
	φ, λ := lat*math.Pi/180, lon*math.Pi/180
	cosφ := math.Cos(φ)
	return vec3{cosφ * math.Cos(λ), cosφ * math.Sin(λ), math.Sin(φ)}
}

func (a vec3) dot(b vec3) float64 { return a.x*b.x + a.y*b.y + a.z*b.z }

// chordKm turns the dot product of two unit vectors into the straight-line
// distance between the points. It orders pairs exactly as great-circle
// distance does and is within 0.1% of it up to 1,000 km (10% at 10,000 km),
// at the cost of one square root.
func chordKm(dot float64) float64 {
	d := 2 - 2*dot
	if d <= 0 {
		return 0
	}
	return earthRadiusKm * math.Sqrt(d)
}

// haversineKm is the great-circle distance. Ranking never calls it; tests
// and the benchmark floor do.
func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	φ1, φ2 := lat1*math.Pi/180, lat2*math.Pi/180
	dφ, dλ := φ2-φ1, (lon2-lon1)*math.Pi/180
	h := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}

func validCoordinates(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}
