package flow

import (
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"testing"
)

// cidVector is one published Community ID v1 test vector with its three
// renderings: seed 0 base64, seed 1 base64, seed 0 hex (without the "1:").
type cidVector struct {
	proto        uint8
	src, dst     string
	sport, dport uint16 // ICMP: type and code; ignored for port-less protocols
	seed0, seed1 string
	hex0         string
}

// specTableVectors are the three tables of the Community ID specification's
// baseline README (github.com/corelight/community-id-spec, baseline/README.md:
// "Default settings", "A custom seed=1 value", "No base64-encoding").
var specTableVectors = []cidVector{
	{6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=", "c026f7386ef200559e95a53276ed03fb5db908b3"},
	{6, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=", "c026f7386ef200559e95a53276ed03fb5db908b3"},
	{17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw=", "d0cbbd227431eb3e1988264cffb1d78b658c84e8"},
	{17, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw=", "d0cbbd227431eb3e1988264cffb1d78b658c84e8"},
	{132, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s=", "10ab7832cc6ec9a13a98bfa19ab12443d72c0c3f"},
	{132, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s=", "10ab7832cc6ec9a13a98bfa19ab12443d72c0c3f"},
	{1, "1.2.3.4", "5.6.7.8", 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=", "72ba1d4472f6144b078dbbf752446b7dbb386d9d"},
	{1, "5.6.7.8", "1.2.3.4", 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=", "72ba1d4472f6144b078dbbf752446b7dbb386d9d"},
	{1, "1.2.3.4", "5.6.7.8", 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=", "1:1DD7cWGC/Yg91YGsQeni8du3pIA=", "7ff6224b25aa733ad381f5026650549ef1d170f9"},
	{58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 128, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE=", "d1b7fb872309530b777cc103ef3f0b21f46905ea"},
	{58, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 129, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE=", "d1b7fb872309530b777cc103ef3f0b21f46905ea"},
	{58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 146, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10=", "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=", "7d80bcfa9cf6e04f8484034fd44661a57d03c35d"},
	{46, "1.2.3.4", "5.6.7.8", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=", "1:/buhqeOmaRCopOZFy9HnoJd5XW8=", "8a4bf79267fcf65b9fef758fcf58ceb38f52efaf"},
	{46, "5.6.7.8", "1.2.3.4", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=", "1:/buhqeOmaRCopOZFy9HnoJd5XW8=", "8a4bf79267fcf65b9fef758fcf58ceb38f52efaf"},
	{46, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=", "c10ff69b0ae75cfe259897077462f978f8d1f9ed"},
	{46, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=", "c10ff69b0ae75cfe259897077462f978f8d1f9ed"},
}

// specPcapVectors are the specification's machine-readable baseline
// (github.com/corelight/community-id-spec, baseline/baseline_deflt.json,
// baseline_seed1.json and baseline_nob64.json), computed by pycommunityid's
// community-id-pcap over the spec's pcaps/combined.pcap.gz. For ICMP the
// files record the port equivalents (type, then counterpart type or code),
// which map to themselves.
var specPcapVectors = []cidVector{
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=", "7461f21af8cc7e58e0e81a69c26ddb8342cef136"},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=", "7461f21af8cc7e58e0e81a69c26ddb8342cef136"},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=", "cdabf24ff71ecd0af57e6226602c189cc5db81c9"},
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135, "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=", "cdabf24ff71ecd0af57e6226602c189cc5db81c9"},
	{58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=", "d8e6d5060227dbca19be26d866164c06087b59d4"},
	{58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=", "84b65dd17196a23a33aefc6a13475607588ce91d"},
	{58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=", "f935be1ed2c7bd5d719c6855d65bfb5e826ba908"},
	{58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=", "f935be1ed2c7bd5d719c6855d65bfb5e826ba908"},
	{58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=", "84efac3781fe306e4c63ff2122b5cfa9ce19433d"},
	{58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=", "a64bc7a822fcf3fb60d64e1c3e282665752d2f4d"},
	{1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=", "5f4b27617a60c22bfd4d9b6a83ae2c833527e839"},
	{1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=", "5f4b27617a60c22bfd4d9b6a83ae2c833527e839"},
	{1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20=", "607c6d022ac21bfff43b391c540ba4a8a40df713"},
	{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=", "fea15a78047e8057b52988cccd50ec32ffb0814e"},
	{6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=", "fea15a78047e8057b52988cccd50ec32ffb0814e"},
	{132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=", "30fd84b5108050866f4f0e8cc491cb57b37b243b"},
	{132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=", "30fd84b5108050866f4f0e8cc491cb57b37b243b"},
	{6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=", "2d053da9994af81e45dca0e67afea6e4f3226eb8"},
	{6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=", "2d053da9994af81e45dca0e67afea6e4f3226eb8"},
	{17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=", "77f14fe445b7c22635bc29dd87095e451287a304"},
	{17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=", "77f14fe445b7c22635bc29dd87095e451287a304"},
	{46, "10.1.12.1", "10.1.12.2", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=", "28794b920a095bb89f513c934a0c957e4147ccac"},
	{46, "10.1.12.2", "10.1.12.1", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=", "28794b920a095bb89f513c934a0c957e4147ccac"},
}

func TestCommunityIDSpecVectors(t *testing.T) {
	sets := map[string][]cidVector{"README tables": specTableVectors, "baseline JSON": specPcapVectors}
	for set, vectors := range sets {
		for _, v := range vectors {
			src, dst := netip.MustParseAddr(v.src), netip.MustParseAddr(v.dst)
			name := set + "/" + v.src + "/" + v.dst
			if got := CommunityID(0, src, dst, v.proto, v.sport, v.dport); got != v.seed0 {
				t.Errorf("%s proto %d %d/%d seed 0:\n got %s\nwant %s", name, v.proto, v.sport, v.dport, got, v.seed0)
			}
			if got := CommunityID(1, src, dst, v.proto, v.sport, v.dport); got != v.seed1 {
				t.Errorf("%s proto %d %d/%d seed 1:\n got %s\nwant %s", name, v.proto, v.sport, v.dport, got, v.seed1)
			}
			sum, ok := communityIDSum(0, src, dst, v.proto, v.sport, v.dport)
			if got := hex.EncodeToString(sum[:]); !ok || got != v.hex0 {
				t.Errorf("%s proto %d %d/%d hex:\n got %s (ok %v)\nwant %s", name, v.proto, v.sport, v.dport, got, ok, v.hex0)
			}
		}
	}
}

// TestCommunityIDZeekBtest checks the expectations of Zeek's own test of its
// community_id_v1() built-in (zeek/zeek testing/btest/bifs/community_id_v1.zeek),
// where Zeek's conn_id carries ICMP type and counterpart type as ports.
func TestCommunityIDZeekBtest(t *testing.T) {
	v6a, v6b := "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D"
	tests := []struct {
		seed         uint16
		proto        uint8
		src, dst     string
		sport, dport uint16
		want         string
	}{
		{0, 6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{0, 17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
		{0, 1, "1.2.3.4", "5.6.7.8", 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
		{0, 58, v6a, v6b, 128, 129, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
		{1, 6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="},
		{1, 17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="},
		{1, 1, "1.2.3.4", "5.6.7.8", 8, 0, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="},
		{1, 58, v6a, v6b, 128, 129, "1:IO27GQzPuCtNnwFvjWALMHu5tJE="},
	}
	for _, tt := range tests {
		got := CommunityID(tt.seed, netip.MustParseAddr(tt.src), netip.MustParseAddr(tt.dst), tt.proto, tt.sport, tt.dport)
		if got != tt.want {
			t.Errorf("seed %d proto %d %s:%d > %s:%d: got %s, want %s", tt.seed, tt.proto, tt.src, tt.sport, tt.dst, tt.dport, got, tt.want)
		}
	}
}

func TestCommunityIDEdgeCases(t *testing.T) {
	v4a, v4b := netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("5.6.7.8")
	v6 := netip.MustParseAddr("fe80::1")
	mapped := netip.AddrFrom16(v4a.As16()) // ::ffff:1.2.3.4
	tests := []struct {
		name     string
		src, dst netip.Addr
		proto    uint8
		sp, dp   uint16
		want     string
	}{
		{"invalid source", netip.Addr{}, v4b, 6, 1, 2, ""},
		{"invalid destination", v4a, netip.Addr{}, 6, 1, 2, ""},
		{"mixed families", v4a, v6, 6, 1, 2, ""},
		{"IPv4-mapped hashed as IPv4", mapped, v4b, 6, 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{"port-less ignores ports", v4a, v4b, 46, 999, 888, "1:ikv3kmf89luf73WPz1jOs49S768="},
		// Zeek's conn_id has the counterpart type (0) as resp_p, the
		// schema has the code (0); an echo's code is 0 either way, and a
		// bogus code must not change a two-way type's ID.
		{"ICMP echo ignores code", v4a, v4b, 1, 8, 7, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
		{"ICMP type above 255 is one-way", v4a, v4b, 1, 300, 0, CommunityID(0, v4a, v4b, 1, 300, 0)},
	}
	for _, tt := range tests {
		if got := CommunityID(0, tt.src, tt.dst, tt.proto, tt.sp, tt.dp); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}

	// One-way ICMP keeps its direction: the reverse tuple is another flow.
	fwd := CommunityID(0, v4a, v4b, 1, 11, 0)
	rev := CommunityID(0, v4b, v4a, 1, 11, 0)
	if fwd == rev {
		t.Errorf("one-way ICMP time-exceeded hashed alike in both directions: %s", fwd)
	}
	// ICMPv4 router advertisement pairs with solicitation (pycommunityid, current Zeek).
	if a, b := CommunityID(0, v4a, v4b, 1, 10, 0), CommunityID(0, v4b, v4a, 1, 9, 0); a != b {
		t.Errorf("router solicitation/advertisement: %s != %s", a, b)
	}
}

func TestRecordCommunityID(t *testing.T) {
	a, b := netip.MustParseAddr("1.2.3.4"), netip.MustParseAddr("5.6.7.8")
	v6a := netip.MustParseAddr("fe80:0001:0203:0405:0607:0809:0A0B:0C0D")
	v6b := netip.MustParseAddr("fe80:1011:1213:1415:1617:1819:1A1B:1C1D")
	tests := []struct {
		name string
		r    Record
		want string
	}{
		{"tcp by number", Record{OrigH: a, OrigP: 1122, RespH: b, RespP: 3344, Proto: ProtoTCP, IPProto: 6}, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{"tcp by name", Record{OrigH: a, OrigP: 1122, RespH: b, RespP: 3344, Proto: ProtoTCP}, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
		{"udp by name", Record{OrigH: a, OrigP: 1122, RespH: b, RespP: 3344, Proto: ProtoUDP}, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
		{"icmp by name", Record{OrigH: a, OrigP: 8, RespH: b, RespP: 0, Proto: ProtoICMP}, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
		{"icmp6 by name", Record{OrigH: v6a, OrigP: 128, RespH: v6b, RespP: 0, Proto: ProtoICMP}, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
		{"sctp", Record{OrigH: a, OrigP: 1122, RespH: b, RespP: 3344, Proto: ProtoUnknown, IPProto: 132}, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="},
		{"rsvp", Record{OrigH: a, RespH: b, Proto: ProtoUnknown, IPProto: 46}, "1:ikv3kmf89luf73WPz1jOs49S768="},
		{"unknown transport without number", Record{OrigH: a, RespH: b, Proto: ProtoUnknown}, ""},
		{"given by the source", Record{OrigH: a, OrigP: 1122, RespH: b, RespP: 3344, Proto: ProtoTCP, CommunityID: "1:given"}, "1:given"},
	}
	for _, tt := range tests {
		if got := tt.r.CommunityIDOrDerived(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAppendCommunityIDAllocs(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:470:e5bf:dead:4957:2174:e82c:4887"), netip.MustParseAddr("2607:f8b0:400c:c03::1a")
	buf := make([]byte, 0, CommunityIDLen)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendCommunityID(buf[:0], 0, src, dst, 6, 63943, 25)
	})
	if allocs != 0 {
		t.Errorf("AppendCommunityID: %v allocations per call, want 0", allocs)
	}
	if got, want := string(buf), "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if len(buf) != CommunityIDLen {
		t.Errorf("length %d, CommunityIDLen %d", len(buf), CommunityIDLen)
	}
}

func BenchmarkAppendCommunityID(b *testing.B) {
	src, dst := netip.MustParseAddr("192.168.1.52"), netip.MustParseAddr("8.8.8.8")
	buf := make([]byte, 0, CommunityIDLen)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCommunityID(buf[:0], 0, src, dst, 17, 54585, 53)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ids/s")
}

// TestAppendBase64Sum checks the fixed-length encoder against encoding/base64.
func TestAppendBase64Sum(t *testing.T) {
	var s [20]byte
	for i := range 2000 {
		for j := range s {
			s[j] = byte(i*31 + j*j*7 + i*j)
		}
		if got, want := string(appendBase64Sum([]byte("x"), &s)), "x"+base64.StdEncoding.EncodeToString(s[:]); got != want {
			t.Fatalf("%x: got %s, want %s", s, got, want)
		}
	}
}
