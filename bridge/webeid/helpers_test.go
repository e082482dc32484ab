package webeid

import (
	"encoding/asn1"
	"math/big"
)

func asn1Marshal(r, s *big.Int) ([]byte, error) { return asn1.Marshal(ecdsaSig{r, s}) }
