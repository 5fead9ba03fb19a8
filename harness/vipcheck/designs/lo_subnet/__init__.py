"""VIP on lo /32: a wider mask makes the LB black-hole its neighbours; ARP for the VIP stays silent."""
