package classifier

import (
	"encoding/json"
	"strings"
	"testing"
)

// A stored cut that would settle rows by a meaningless number is refused on
// load, naming the bad value; a sound one loads back as written.
func TestCalibrationValidated(t *testing.T) {
	with := func(cal string) []byte {
		var doc map[string]any
		if err := json.Unmarshal(goodModel(t), &doc); err != nil {
			t.Fatal(err)
		}
		var c any
		if err := json.Unmarshal([]byte(cal), &c); err != nil {
			t.Fatal(err)
		}
		doc["calibration"] = c
		data, _ := json.Marshal(doc)
		return data
	}
	f, err := loadBytes(t, with(`{"target_accuracy":0.95,"threshold":0.9,"class_targets":{"dog":0.99},"class_thresholds":{"dog":null},"rows":10}`))
	if err != nil {
		t.Fatalf("a sound calibration: %v", err)
	}
	if c := f.Calibration; c == nil || *c.Threshold != 0.9 || c.ClassThresholds["dog"] != nil || c.ClassTargets["dog"] != 0.99 {
		t.Fatalf("loaded %+v", f.Calibration)
	}
	for _, c := range []struct{ cal, want string }{
		{`{"target_accuracy":0,"threshold":0.9}`, "target_accuracy"},
		{`{"target_accuracy":1.5,"threshold":0.9}`, "target_accuracy"},
		{`{"target_accuracy":0.95,"threshold":1.2}`, "threshold 1.2"},
		{`{"target_accuracy":0.95,"threshold":-0.1}`, "threshold -0.1"},
		{`{"target_accuracy":0.95,"threshold":0.9,"class_targets":{"cow":0.9},"class_thresholds":{"cow":0.5}}`, `"cow"`},
		{`{"target_accuracy":0.95,"threshold":0.9,"class_targets":{"dog":0.9}}`, "no threshold"},
		{`{"target_accuracy":0.95,"threshold":0.9,"class_targets":{"dog":0.9},"class_thresholds":{"dog":2}}`, "class_thresholds"},
		{`{"target_accuracy":0.95,"threshold":0.9,"class_thresholds":{"cat":0.5}}`, "no class target"},
	} {
		if _, err := loadBytes(t, with(c.cal)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.cal, err, c.want)
		}
	}
}
