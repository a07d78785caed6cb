//! Sunrise and sunset for sun-relative schedule rules (`stime_opt`/`etime_opt` 1 and 2,
//! kasa-protocol.md §8.6): the shared `plugctl-sun` crate (NOAA solar calculator equations).
//!
//! Where the device is: the location a client set (`set_dev_location`), else the profile's
//! own non-zero `latitude`/`longitude` (or `*_i`), else [`default_location`]: the equator at
//! the longitude matching the host zone's UTC offset, so sunrise is about 06:00 and sunset
//! about 18:00 local time.

pub(crate) use plugctl_sun::{default_location, sun_event, SunEvent};
